//! The `webhooks` section of the OpenAPI document: what subreg sends to a registered endpoint.

/// What a receiver is told about the request (`receiveEvent`'s description).
const RECEIVE_DESCRIPTION: &str = "\
What subreg sends to each endpoint registered with `POST /v1/processors/{pid}/webhooks`
or `POST /v1/controllers/{cid}/webhooks` (Standard Webhooks). One request per event
and endpoint, retried until a 2xx answer or until the retry schedule is used up.

Who gets which event: a processor's endpoints get every event of its evidence log; a
controller's endpoints get the events with `visibility: controller` that name it
(`controller_id`) and the `visibility: public` events of every processor it has an
agreement with; `endpoint.disabled` goes only to the owner of the disabled endpoint. An
endpoint's `event_types`, when not empty, narrows this to those types.

The body is the event as its leaf in the processor's evidence log holds it (`id`, `index`,
`type`, `occurred_at`, `processor_id`, `controller_id`, `visibility` and `data`) plus `log`,
its receipt: `{index, checkpoint}`, the C2SP checkpoint signed by the transaction that appended
the event. Without `log`, the RFC 8785 canonical JSON of the body is the leaf, and
`SHA-256(0x00 || leaf)` its leaf hash; prove it is in the log with
`GET /v1/processors/{processor_id}/log/inclusion?event={id}`. Keep the bodies: `subreg
verify-evidence BUNDLE --against BODIES` shows that a later evidence bundle still holds each
event unchanged and that each receipt's checkpoint is a prefix of the bundle's log. The same event keeps its `webhook-id` on every retry: deduplicate on it.

Verify a request before trusting it: recompute the HMAC-SHA256 of
`{webhook-id}.{webhook-timestamp}.{body}` with the endpoint secret (the bytes after
`whsec_`, base64-decoded), compare it in constant time with each `v1,` signature of
`webhook-signature`, and refuse timestamps far from your clock (e.g. more than 5
minutes) to stop replays.
";

/// The `webhooks` section of the OpenAPI document: the request each endpoint receives, as
/// `notify::dispatcher` sends it (the stored [`EventBody`](crate::domain::event::EventBody) and
/// the Standard Webhooks headers).
pub fn receiver_paths() -> utoipa::openapi::Paths {
    use utoipa::openapi::example::ExampleBuilder;
    use utoipa::openapi::path::{
        HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
    };
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{
        ContentBuilder, ObjectBuilder, PathsBuilder, Ref, Required, ResponseBuilder,
        ResponsesBuilder,
    };
    use utoipa::PartialSchema;
    let header = |name: &str, description: &str, schema: utoipa::openapi::RefOr<_>| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(schema))
    };
    let example = |summary: &str, value: serde_json::Value| {
        ExampleBuilder::new()
            .summary(summary)
            .value(Some(value))
            .build()
    };
    // The event's members and its receipt: EventBody with `log` added.
    let mut schema = crate::domain::event::EventBody::schema();
    if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object)) = &mut schema
    {
        object
            .properties
            .insert("log".into(), Ref::from_schema_name("LogReceipt").into());
        object.required.push("log".into());
        object.description =
            Some("The event as its leaf holds it (see EventBody), and `log`: its receipt.".into());
    }
    let body = ContentBuilder::new()
        .schema(Some(schema))
        .examples_from_iter([
            (
                "announced",
                example(
                    "change.announced, to the processor and its controllers",
                    serde_json::json!({
                        "id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                        "index": 41,
                        "log": {"index": 41, "checkpoint": "subreg.example/processors/timengo-dpg\n42\nqJp0s9mnAqiUKyHyrx0yTsgAUz2NQrwZRhvx5ZkE6Gk=\n\n— subreg.example Az3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hHe2o+3FD/sXOCwL9WzrT4s0M0c0tCyqcQYf8hE3MNE0y+vA0=\n"},
                        "visibility": "public",
                        "type": "change.announced",
                        "occurred_at": "2026-11-23T12:00:00.123456Z",
                        "processor_id": "timengo-dpg",
                        "controller_id": null,
                        "data": {
                            "id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60",
                            "processor_id": "timengo-dpg",
                            "kind": "addition",
                            "summary": "Adding Qbox for customer logging",
                            "state": "announced"
                        }
                    }),
                ),
            ),
            (
                "disabled",
                example(
                    "endpoint.disabled, to the endpoint's owner",
                    serde_json::json!({
                        "id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7c",
                        "index": 57,
                        "log": {"index": 57, "checkpoint": "subreg.example/processors/timengo-dpg\n58\nqJp0s9mnAqiUKyHyrx0yTsgAUz2NQrwZRhvx5ZkE6Gk=\n\n— subreg.example Az3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hHe2o+3FD/sXOCwL9WzrT4s0M0c0tCyqcQYf8hE3MNE0y+vA0=\n"},
                        "visibility": "controller",
                        "type": "endpoint.disabled",
                        "occurred_at": "2026-11-28T12:00:00Z",
                        "processor_id": "timengo-dpg",
                        "controller_id": "roskilde-kommune",
                        "data": {
                            "endpoint_id": "2a8c4e6f-1b3d-4f5a-8c9e-0d1f2a3b4c5d",
                            "owner_kind": "controller",
                            "owner_id": "roskilde-kommune",
                            "reason": "the receiver answered 410 Gone",
                            "failing_since": "2026-11-23T12:00:05Z",
                            "disabled_at": "2026-11-28T12:00:00Z"
                        }
                    }),
                ),
            ),
        ])
        .build();
    let receive = OperationBuilder::new()
        .tag("webhooks")
        .operation_id(Some("receiveEvent"))
        .summary(Some("An event, pushed to a registered endpoint"))
        .description(Some(RECEIVE_DESCRIPTION))
        .securities(Some([]))
        .parameter(header(
            "webhook-id",
            "The event's id (a UUID), the same on every retry of this event.",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::Custom("uuid".into())))
                .into(),
        ))
        .parameter(
            header(
                "webhook-timestamp",
                "When this attempt was signed, in Unix seconds of the sender's wall clock.",
                i64::schema(),
            )
            .example(Some(serde_json::json!(1795420800))),
        )
        .parameter(
            header(
                "webhook-signature",
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` \
                 with the endpoint secret; a space-separated list when several signatures are \
                 sent.",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some("^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"))
                    .into(),
            )
            .example(Some(serde_json::json!(
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
            ))),
        )
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", body)
                .build(),
        ))
        .responses(
            ResponsesBuilder::new()
                .response(
                    "2XX",
                    ResponseBuilder::new()
                        .description("Received; the delivery is `succeeded` and not sent again."),
                )
                .response(
                    "410",
                    ResponseBuilder::new().description(
                        "The endpoint is gone for good: subreg disables it at once, marks its \
                         waiting deliveries `failed` and sends `endpoint.disabled` to its owner.",
                    ),
                )
                .response(
                    "default",
                    ResponseBuilder::new().description(
                        "Any other answer (redirects are not followed), a timeout or a \
                         connection error is a failed attempt, retried after 5 s, 5 min, 30 min, \
                         2 h, 5 h, 10 h and 10 h (with up to 20 % jitter; a `Retry-After` of \
                         seconds or an HTTP date lengthens the wait); then the delivery is \
                         `failed`. An endpoint failing for 5 days without a success is disabled \
                         as for 410. The first bytes of the answer are kept in the delivery's \
                         `last_response`.",
                    ),
                ),
        );
    PathsBuilder::new()
        .path("event", PathItem::new(HttpMethod::Post, receive))
        .build()
}
