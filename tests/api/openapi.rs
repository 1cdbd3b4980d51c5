use crate::helpers::*;
use crate::on_both_backends;
use std::collections::BTreeSet;

/// The (METHOD, path) pairs the app registers, read from the same registration the server uses.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = Vec::new();
    let _ = actix_web::App::new().configure(|cfg| {
        routes = subreg::http::register(cfg, true);
    });
    routes
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

async fn served_spec_matches_the_routes(app: TestApp) {
    let reply = app.get("/openapi.yaml", None).await;
    assert_eq!(reply.status, 200);
    let spec: serde_yaml::Value = serde_yaml::from_str(&reply.text).expect("openapi.yaml parses");
    assert_eq!(
        spec["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().expect("method");
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                documented.insert((
                    method.to_uppercase(),
                    path.as_str().expect("path").to_string(),
                ));
            }
        }
    }
    let registered = registered_routes();
    assert!(registered.len() > 15, "{registered:?}");
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty() && phantom.is_empty(),
        "undocumented {undocumented:?}, phantom {phantom:?}"
    );
}

on_both_backends!(served_spec_matches_the_routes);
