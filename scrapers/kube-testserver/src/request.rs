//! Reading a request: which endpoint its path names, what its query asks for, and whether
//! its `Accept` header wants metadata only.

/// The endpoint a path names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(&'a str),
    /// `/api/{version}` or `/apis/{group}/{version}`
    Resources {
        group: &'a str,
        version: &'a str,
    },
    /// A collection or one object of it, cluster-wide or in a namespace.
    Objects {
        group: &'a str,
        version: &'a str,
        plural: &'a str,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    },
}

/// Reads a request path; `None` for anything the server does not serve (subresources,
/// unknown prefixes).
pub(crate) fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Some(Route::Version),
        ["api"] => return Some(Route::CoreVersions),
        ["apis"] => return Some(Route::Groups),
        ["apis", group] => return Some(Route::Group(group)),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let objects = |plural, namespace, name| Some(Route::Objects { group, version, plural, namespace, name });
    match rest {
        [] => Some(Route::Resources { group, version }),
        [plural] => objects(plural, None, None),
        [plural, name] => objects(plural, None, Some(*name)),
        ["namespaces", ns, plural] => objects(plural, Some(*ns), None),
        ["namespaces", ns, plural, name] => objects(plural, Some(*ns), Some(*name)),
        _ => None,
    }
}

/// The query parameters of a list or watch.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub watch: bool,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub allow_bookmarks: bool,
    pub timeout_seconds: Option<u64>,
    pub send_initial_events: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

/// Go's `strconv.ParseBool`, which the real server uses for boolean parameters.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("invalid boolean {other:?}")),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("invalid {name} {value:?}"))
}

impl Query {
    /// Reads a raw query string; unknown parameters are ignored, as the real server does.
    pub fn parse(query: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let non_empty = || Some(value.to_string()).filter(|v| !v.is_empty());
            match key.as_ref() {
                "watch" => q.watch = parse_bool(&value)?,
                "resourceVersion" => q.resource_version = non_empty(),
                "resourceVersionMatch" => q.resource_version_match = non_empty(),
                "limit" => q.limit = Some(parse_number::<usize>("limit", &value)?).filter(|l| *l > 0),
                "continue" => q.continue_token = non_empty(),
                "allowWatchBookmarks" => q.allow_bookmarks = parse_bool(&value)?,
                // 0 asks for the server's default, which here is no timeout.
                "timeoutSeconds" => {
                    q.timeout_seconds = Some(parse_number("timeoutSeconds", &value)?).filter(|t| *t > 0)
                }
                "sendInitialEvents" => q.send_initial_events = parse_bool(&value)?,
                "labelSelector" => q.label_selector = non_empty(),
                "fieldSelector" => q.field_selector = non_empty(),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The resourceVersion parameter as a number, if it is one other than "0".
    pub fn resource_version_number(&self) -> Result<Option<u64>, String> {
        match self.resource_version.as_deref() {
            None | Some("0") => Ok(None),
            Some(rv) => parse_number("resourceVersion", rv).map(Some),
        }
    }
}

/// Whether an `Accept` header asks for `PartialObjectMetadata(List)` — what kube-rs's
/// `list_metadata` and `metadata_watcher` send.
pub(crate) fn wants_metadata_only(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.split(';').any(|p| p.trim().starts_with("as=PartialObjectMetadata")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/api"), Some(Route::CoreVersions));
        assert_eq!(route("/apis/apps"), Some(Route::Group("apps")));
        assert_eq!(route("/api/v1"), Some(Route::Resources { group: "", version: "v1" }));
        let objects =
            |group, version, plural, namespace, name| Some(Route::Objects { group, version, plural, namespace, name });
        assert_eq!(route("/api/v1/pods"), objects("", "v1", "pods", None, None));
        assert_eq!(route("/api/v1/namespaces"), objects("", "v1", "namespaces", None, None));
        assert_eq!(route("/api/v1/namespaces/kube-system"), objects("", "v1", "namespaces", None, Some("kube-system")));
        assert_eq!(route("/api/v1/namespaces/a/pods"), objects("", "v1", "pods", Some("a"), None));
        assert_eq!(
            route("/apis/apps/v1/namespaces/a/deployments/d"),
            objects("apps", "v1", "deployments", Some("a"), Some("d"))
        );
        assert_eq!(route("/api/v1/namespaces/a/pods/p/log"), None);
        assert_eq!(route("/healthz"), None);
    }

    #[test]
    fn queries() {
        let q =
            Query::parse("&watch=1&resourceVersion=12&allowWatchBookmarks=true&timeoutSeconds=290&labelSelector=a%3Db")
                .unwrap();
        assert!(q.watch && q.allow_bookmarks);
        assert_eq!(q.resource_version_number(), Ok(Some(12)));
        assert_eq!(q.timeout_seconds, Some(290));
        assert_eq!(q.label_selector.as_deref(), Some("a=b"));
        assert_eq!(Query::parse("limit=0&resourceVersion=0").unwrap().limit, None);
        assert!(Query::parse("watch=yes").is_err());
    }

    #[test]
    fn metadata_accept_headers() {
        assert!(wants_metadata_only("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"));
        assert!(wants_metadata_only("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"));
        assert!(!wants_metadata_only("application/json"));
    }
}
