//! Content YAML: the bytes as a detection document and as a macro document, then every
//! loaded detection's search is expanded and parsed, as `content check` does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use vigil_content::ContentSet;
use vigil_spl::{expand_macros, ExpandLimits};

fuzz_target!(|text: &str| {
    let mut set = ContentSet::empty();
    set.add_macro_text(Path::new("macros/fuzz.yml"), text);
    set.add_detection_text(Path::new("detections/fuzz.yml"), text);
    for e in &set.errors {
        let _ = e.to_string();
    }
    for d in set.detections() {
        let _ = d.version_text();
        if let Ok(x) = expand_macros(&d.search, &set, &ExpandLimits::default()) {
            let _ = vigil_spl::parse(&x);
        }
        let _ = set.deployment_for(d);
    }
});
