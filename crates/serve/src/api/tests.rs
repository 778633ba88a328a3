//! In-process API tests: the router called with tower's `oneshot`, a real data directory.

use super::*;

#[test]
fn the_openapi_document_describes_exactly_the_routes_served() {
    let doc = openapi::document();
    let paths = doc["paths"].as_object().unwrap();
    let mut served: Vec<(String, String)> = routes().list.iter().map(|(m, p)| (m.to_lowercase(), p.to_string())).collect();
    served.sort();
    let mut documented: Vec<(String, String)> =
        paths.iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))).collect();
    documented.sort();
    assert_eq!(served, documented);
    // Every path parameter is declared.
    for (p, ops) in paths {
        for (m, op) in ops.as_object().unwrap() {
            let declared: Vec<&str> =
                op["parameters"].as_array().unwrap().iter().filter(|x| x["in"] == "path").map(|x| x["name"].as_str().unwrap()).collect();
            let in_path: Vec<&str> = p.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            assert_eq!(declared, in_path, "{m} {p}");
        }
    }
}
