// One schema for both backends: only column types SQLite and PostgreSQL share.

diesel::table! {
    processors (id) {
        id -> Text,
        name -> Text,
        registration_scheme -> Nullable<Text>,
        registration_number -> Nullable<Text>,
        address -> Text,
        country -> Text,
        contact_email -> Nullable<Text>,
        chain_head -> Text,
        event_count -> BigInt,
        created_at -> Timestamp,
        log_frontier -> Text,
        log_frontier_size -> BigInt,
    }
}

diesel::table! {
    controllers (id) {
        id -> Text,
        name -> Text,
        registration_scheme -> Nullable<Text>,
        registration_number -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        feed_token -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    agreements (id) {
        id -> Text,
        controller_id -> Text,
        processor_id -> Text,
        authorisation -> Text,
        notice_days -> Integer,
        objection_requires_reason -> Bool,
        third_country_transfers -> Text,
        signed_at -> Timestamp,
        reference -> Nullable<Text>,
        created_at -> Timestamp,
        time_zone -> Text,
        state -> Text,
        in_force_from -> Nullable<Timestamp>,
        proposed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        confirmed_by -> Nullable<Text>,
        terminated_at -> Nullable<Timestamp>,
        termination_reason -> Nullable<Text>,
        terminated_by -> Nullable<Text>,
        allowed_locations -> Nullable<Text>,
        annex_name -> Text,
        version -> Integer,
        notice_starts -> Text,
    }
}

diesel::table! {
    agreement_versions (agreement_id, version) {
        agreement_id -> Text,
        version -> Integer,
        authorisation -> Text,
        notice_days -> Integer,
        objection_requires_reason -> Bool,
        third_country_transfers -> Text,
        time_zone -> Text,
        allowed_locations -> Nullable<Text>,
        annex_name -> Text,
        state -> Text,
        proposed_by_party -> Text,
        proposed_at -> Timestamp,
        proposed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        confirmed_by -> Nullable<Text>,
        notice_starts -> Text,
    }
}

diesel::table! {
    agreement_annex_entries (agreement_id, subprocessor_id) {
        agreement_id -> Text,
        subprocessor_id -> Text,
        authorised_by -> Text,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    subprocessors (id) {
        id -> Text,
        processor_id -> Text,
        name -> Text,
        registration_scheme -> Nullable<Text>,
        registration_number -> Nullable<Text>,
        address -> Text,
        country -> Text,
        processing_locations -> Text,
        location -> Text,
        transfer_basis -> Nullable<Text>,
        transfer_basis_note -> Nullable<Text>,
        purpose -> Text,
        contact_name -> Nullable<Text>,
        contact_position -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        status -> Text,
        active_from -> Nullable<Timestamp>,
        active_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        version -> Integer,
        access_locations -> Text,
        sub_subprocessors -> Text,
        purpose_en -> Nullable<Text>,
        responsibilities -> Nullable<Text>,
        responsibilities_en -> Nullable<Text>,
    }
}

diesel::table! {
    subprocessor_versions (entry_id, version) {
        entry_id -> Text,
        version -> Integer,
        snapshot -> Text,
        valid_until -> Timestamp,
        change_id -> Text,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        processor_id -> Text,
        controller_id -> Nullable<Text>,
        event_type -> Text,
        occurred_at -> Timestamp,
        payload -> Text,
        prev_hash -> Text,
        hash -> Text,
        visibility -> Text,
        log_index -> BigInt,
        leaf_hash -> Text,
    }
}

diesel::table! {
    log_checkpoints (processor_id, size) {
        processor_id -> Text,
        size -> BigInt,
        root -> Text,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    test_clock (id) {
        id -> Integer,
        offset_ms -> BigInt,
    }
}

diesel::table! {
    changes (id) {
        id -> Text,
        processor_id -> Text,
        kind -> Text,
        subprocessor_id -> Nullable<Text>,
        replaces -> Nullable<Text>,
        summary -> Text,
        planned_from -> Nullable<Timestamp>,
        state -> Text,
        announced_at -> Nullable<Timestamp>,
        earliest_use -> Nullable<Timestamp>,
        effective_at -> Nullable<Timestamp>,
        withdrawn_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        live_over_unresolved -> Nullable<Text>,
        modifies -> Nullable<Text>,
        summary_en -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        url -> Text,
        event_types -> Text,
        enabled -> Bool,
        secret -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    objection_windows (id) {
        id -> Text,
        change_id -> Text,
        agreement_id -> Text,
        controller_id -> Text,
        processor_id -> Text,
        opened_at -> Timestamp,
        closes_at -> Timestamp,
        state -> Text,
        conflicts -> Text,
        decided_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        objection_reason -> Nullable<Text>,
        objection_at -> Nullable<Timestamp>,
        approval_note -> Nullable<Text>,
        approval_at -> Nullable<Timestamp>,
        approval_instruction -> Nullable<Text>,
        closes_on -> Nullable<Text>,
        late -> Bool,
        ended_as -> Nullable<Text>,
        objection_by -> Nullable<Text>,
        approval_by -> Nullable<Text>,
        resolution -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        resolution_at -> Nullable<Timestamp>,
        resolution_by -> Nullable<Text>,
        agreement_version -> Integer,
        notified_at -> Nullable<Timestamp>,
        notified_via -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_seq -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_latency_ms -> Nullable<BigInt>,
        last_response -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    token_revocations (org) {
        org -> Text,
        tokens_valid_after -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (scope, idem_key) {
        scope -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        lease_id -> Text,
        locked_until -> Timestamp,
        status -> Nullable<Integer>,
        headers -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    notice_contacts (owner_kind, owner_id, position) {
        owner_kind -> Text,
        owner_id -> Text,
        position -> Integer,
        name -> Text,
        email -> Text,
        language -> Text,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        event_id -> Text,
        event_seq -> BigInt,
        processor_id -> Text,
        controller_id -> Nullable<Text>,
        kind -> Text,
        recipient_name -> Text,
        recipient -> Text,
        language -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        window_id -> Nullable<Text>,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Text,
        processor_id -> Text,
        email -> Text,
        email_key -> Text,
        language -> Text,
        frequency -> Text,
        created_at -> Timestamp,
        confirm_sent_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
        digest_through -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    changes,
    objection_windows,
    processors,
    controllers,
    agreements,
    agreement_versions,
    subprocessors,
    subprocessor_versions,
    events,
    log_checkpoints,
    test_clock,
    webhook_endpoints,
    webhook_deliveries,
    notice_contacts,
    mail_outbox,
    subscriptions,
);
