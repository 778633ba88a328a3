//! Zip archives. Each member is read as its own file, named `archive.zip:member` in origins
//! and reports; its format is sniffed from its content like any file. Only stored and deflate
//! members are supported (what OTRF/Mordor and most tooling produce); others are reported as
//! `"unsupported zip member"`. Directories and hidden members (`.x`, `__MACOSX/`) are skipped.
//! Gzip is handled in the dispatcher (`read_stream_in`), as a decoding layer.

use std::io::{Read, Seek};
use std::sync::Arc;

use crate::{read_stream_in, Ctx};

pub(crate) fn read_zip<R: Read + Seek>(input: R, name: &Arc<str>, depth: usize, ctx: &mut Ctx) {
    let mut zip = match zip::ZipArchive::new(input) {
        Ok(z) => z,
        Err(e) => {
            ctx.report.skip("bad zip archive", name, e);
            return;
        }
    };
    for i in 0..zip.len() {
        let member = match zip.by_index(i) {
            Ok(m) => m,
            Err(e) => {
                ctx.report.skip("unsupported zip member", format!("{name}:#{i}"), e);
                continue;
            }
        };
        let member_name = member.name().to_string();
        if member.is_dir() {
            continue;
        }
        let hidden = member_name.split('/').any(|part| part.starts_with('.') || part == "__MACOSX");
        if hidden {
            continue;
        }
        let full: Arc<str> = Arc::from(format!("{name}:{member_name}"));
        read_stream_in(&full, Box::new(member), depth, ctx);
    }
}
