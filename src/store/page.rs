use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::StoreError;
use crate::domain::{DomainError, FieldError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Keyset pagination: `cursor` is the opaque form of the last key of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, StoreError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(invalid(
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    // A key never holds control characters; PostgreSQL refuses NUL outright.
                    .filter(|key| crate::domain::text::first_forbidden(key, false).is_none())
                    .ok_or_else(|| {
                        invalid(
                            "cursor",
                            "`cursor` is not one this API returned: pass next_cursor unchanged",
                        )
                    })?,
            ),
        };
        Ok(PageRequest { limit, after })
    }

    pub fn first(limit: i64) -> Self {
        PageRequest { limit, after: None }
    }

    /// Number of rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the fetched rows to a page; `key` gives the keyset value of a row.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Domain(DomainError::Invalid(vec![FieldError::new(field, message)]))
}

/// One page of a list. Its schema is named after the item (`ProcessorPage` for
/// `Page<Processor>`) and refers to the item's schema, which utoipa's generic derive would
/// inline under a name like `Page_Processor`.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// utoipa's own derives implement `PartialSchema` through `ComposeSchema` (generic arguments
// arrive as schemas); the page's item is always referred to by name, so they are not needed.
impl<T: utoipa::ToSchema> utoipa::__dev::ComposeSchema for Page<T> {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
        use utoipa::openapi::Ref;
        ObjectBuilder::new()
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("items")
            .property(
                "next_cursor",
                Ref::from_schema_name(<PageCursor as utoipa::ToSchema>::name()),
            )
            .required("next_cursor")
            .into()
    }
}

/// The schema of a page's `next_cursor`.
pub struct PageCursor;

impl utoipa::PartialSchema for PageCursor {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(
                "The cursor for the next page: pass it unchanged as `cursor`; null on the last \
                 page.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for PageCursor {}

impl<T: utoipa::ToSchema> utoipa::ToSchema for Page<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        format!("{}Page", T::name()).into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
        schemas.push((
            <PageCursor as utoipa::ToSchema>::name().into(),
            <PageCursor as utoipa::PartialSchema>::schema(),
        ));
    }
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_pages_stop() {
        let request = PageRequest::parse(Some(2), None).expect("valid");
        let page = request.page(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(page.items, ["a", "b"]);
        let next = PageRequest::parse(Some(2), page.next_cursor.as_deref()).expect("valid");
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(next
            .page(vec!["c"], |s| s.to_string())
            .next_cursor
            .is_none());
    }

    #[test]
    fn bad_limits_and_cursors_are_refused() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(501), None).is_err());
        assert!(PageRequest::parse(None, Some("%%%")).is_err());
    }
}
