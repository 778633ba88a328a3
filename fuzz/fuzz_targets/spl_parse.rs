//! SPL lexer and parser: whole pipelines, standalone search and eval expressions, and the
//! caret rendering of every error (spans must stay inside the text).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    for r in [
        vigil_spl::parse(text).map(|_| ()),
        vigil_spl::parse_search_expr(text).map(|_| ()),
        vigil_spl::parse_eval_expr(text).map(|_| ()),
    ] {
        if let Err(e) = r {
            assert!(e.span.start <= e.span.end, "inverted span {:?}", e.span);
            assert!(e.span.end <= text.len() + 1, "span {:?} past the text ({} bytes)", e.span, text.len());
            let _ = e.render(text, "fuzz");
        }
    }
});
