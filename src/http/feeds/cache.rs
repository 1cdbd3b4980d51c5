//! The in-process cache of rendered pages (Atom feed pages, and the HTML pages with keys of
//! their own), each kept for one version of its feed, and the processors' newest events.

use super::{http_date, sha256_hex};
use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Rendered pages kept in memory; beyond this the least recently rendered is dropped.
const CACHE_CAPACITY: usize = 1024;

/// A rendered feed page (or HTML page) and the validators that go with it.
#[derive(Clone)]
pub(crate) struct Rendered {
    version: String,
    pub(crate) etag: String,
    pub(super) last_modified: DateTime<Utc>,
    /// `last_modified` as the `Last-Modified` header says it, formatted once.
    pub(super) last_modified_header: HeaderValue,
    pub(crate) body: Bytes,
    tick: u64,
}

impl Rendered {
    /// A strong ETag from the cache key and version: the same bytes for the same inputs.
    pub(crate) fn new(
        key: &str,
        version: String,
        last_modified: DateTime<Utc>,
        body: Bytes,
    ) -> Self {
        let digest = sha256_hex(&format!("{key}\n{version}"));
        Rendered {
            etag: format!("\"{}\"", digest.chars().take(32).collect::<String>()),
            version,
            last_modified,
            last_modified_header: last_modified_header(last_modified),
            body,
            tick: 0,
        }
    }
}

fn last_modified_header(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&http_date(at)).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Rendered pages by (feed, token, page), each valid for one version of the feed; the HTML
/// pages share it with keys of their own.
#[derive(Default)]
pub struct FeedCache {
    inner: Mutex<CacheInner>,
    /// A processor's newest event by processor id, with the events generation it was read at.
    versions: Mutex<HashMap<String, KnownVersion>>,
    /// The versions of the other public reads (pages, lists) by a key of their own, trusted
    /// as the feeds' are.
    read_versions: Mutex<HashMap<String, KnownReadVersion>>,
}

/// The version of a public read (page, list) and when it last changed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReadVersion {
    pub(crate) key: String,
    pub(crate) last_modified: DateTime<Utc>,
}

#[derive(Clone)]
struct KnownReadVersion {
    generation: u64,
    read_at: std::time::Instant,
    version: ReadVersion,
}

/// How long a processor feed's version is trusted without asking the database, when this
/// process has committed no event since: events appended by another instance on the same
/// database show up within this time.
pub const VERSION_TRUST: std::time::Duration = std::time::Duration::from_millis(1000);

#[derive(Clone, Copy)]
struct KnownVersion {
    generation: u64,
    read_at: std::time::Instant,
    last: Option<i64>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, Rendered>,
    tick: u64,
}

impl FeedCache {
    pub(super) fn known_version(&self, pid: &str, generation: u64) -> Option<Option<i64>> {
        let versions = self.versions.lock().ok()?;
        versions
            .get(pid)
            .filter(|v| v.generation == generation && v.read_at.elapsed() < VERSION_TRUST)
            .map(|v| v.last)
    }

    pub(super) fn remember_version(&self, pid: &str, generation: u64, last: Option<i64>) {
        let Ok(mut versions) = self.versions.lock() else {
            return;
        };
        if versions.len() >= CACHE_CAPACITY && !versions.contains_key(pid) {
            versions.clear();
        }
        versions.insert(
            pid.to_string(),
            KnownVersion {
                generation,
                read_at: std::time::Instant::now(),
                last,
            },
        );
    }

    /// The version of a read last asked of the database, if still trusted: this process
    /// committed no event since (`generation`) and VERSION_TRUST has not passed.
    pub(crate) fn known_read_version(&self, key: &str, generation: u64) -> Option<ReadVersion> {
        let versions = self.read_versions.lock().ok()?;
        versions
            .get(key)
            .filter(|v| v.generation == generation && v.read_at.elapsed() < VERSION_TRUST)
            .map(|v| v.version.clone())
    }

    pub(crate) fn remember_read_version(&self, key: &str, generation: u64, version: ReadVersion) {
        let Ok(mut versions) = self.read_versions.lock() else {
            return;
        };
        if versions.len() >= CACHE_CAPACITY && !versions.contains_key(key) {
            versions.clear();
        }
        let known = KnownReadVersion {
            generation,
            read_at: std::time::Instant::now(),
            version,
        };
        match versions.get_mut(key) {
            Some(slot) => *slot = known,
            None => {
                versions.insert(key.to_string(), known);
            }
        }
    }

    pub(crate) fn get(&self, key: &str, version: &str) -> Option<Rendered> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .get(key)
            .filter(|r| r.version == version)
            .cloned()
    }

    pub(crate) fn put(&self, key: String, mut rendered: Rendered) {
        // A poisoned lock only costs the cache, never the answer.
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.tick += 1;
        rendered.tick = inner.tick;
        if inner.entries.len() >= CACHE_CAPACITY && !inner.entries.contains_key(&key) {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, r)| r.tick)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(key, rendered);
    }
}

/// Shared by every worker of the server.
pub fn cache() -> Arc<FeedCache> {
    Arc::new(FeedCache::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(version: &str) -> Rendered {
        let last_modified =
            DateTime::from_timestamp(1_790_000_000, 500_000_000).unwrap_or_default();
        Rendered {
            version: version.into(),
            etag: "\"abc\"".into(),
            last_modified,
            last_modified_header: last_modified_header(last_modified),
            body: Bytes::from_static(b"<feed/>"),
            tick: 0,
        }
    }

    #[test]
    fn read_versions_are_trusted_for_one_generation_only() {
        let cache = FeedCache::default();
        let version = ReadVersion {
            key: "Some(3)/None".into(),
            last_modified: DateTime::UNIX_EPOCH,
        };
        assert_eq!(cache.known_read_version("page\nacme", 7), None);
        cache.remember_read_version("page\nacme", 7, version.clone());
        assert_eq!(cache.known_read_version("page\nacme", 7), Some(version));
        assert_eq!(
            cache.known_read_version("page\nacme", 8),
            None,
            "an event committed since: ask again"
        );
        assert_eq!(cache.known_read_version("page\nother", 7), None);
    }

    #[test]
    fn cache_hits_only_the_same_version_and_stays_bounded() {
        let cache = FeedCache::default();
        cache.put("a".into(), rendered("Some(1)"));
        assert!(cache.get("a", "Some(1)").is_some());
        assert!(cache.get("a", "Some(2)").is_none(), "a newer event misses");
        for i in 0..CACHE_CAPACITY + 10 {
            cache.put(format!("k{i}"), rendered("v"));
        }
        let len = cache.inner.lock().map(|i| i.entries.len()).unwrap_or(0);
        assert_eq!(len, CACHE_CAPACITY);
        assert!(cache.get("a", "Some(1)").is_none(), "the oldest went first");
        assert!(cache
            .get(&format!("k{}", CACHE_CAPACITY + 9), "v")
            .is_some());
    }
}
