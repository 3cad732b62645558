//! The storage conformance suite: one set of cases that every storage layer runs through
//! [`conformance_suite!`](crate::conformance_suite), so each case appears once per layer in
//! `cargo test -- --list` (e.g. `conformance::sqlite::owner_uid_seniority`).
//!
//! A layer's test file provides an async function returning a fresh, empty [`Fixture`]
//! and invokes the macro:
//!
//! ```ignore
//! async fn open() -> pedia_storage::conformance::Fixture { /* empty layer */ }
//! pedia_storage::conformance_suite!(memory, crate::open);
//! ```

mod cases;
pub mod fixtures;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use cases::*;

use crate::contract::StorageFactory;

type Teardown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A fresh, empty storage layer for one case, and how to dispose of it afterwards.
pub struct Fixture {
    pub factory: Arc<dyn StorageFactory>,
    // A Mutex only to make the fixture Sync: cases borrow it across await points.
    teardown: std::sync::Mutex<Option<Teardown>>,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("layer", &self.factory.layer_name())
            .finish()
    }
}

impl Fixture {
    pub fn new(factory: Arc<dyn StorageFactory>) -> Self {
        Self {
            factory,
            teardown: std::sync::Mutex::new(None),
        }
    }

    /// Runs `teardown` after the case passed (drop a test database, remove files).
    pub fn with_teardown(mut self, teardown: impl Future<Output = ()> + Send + 'static) -> Self {
        self.teardown = std::sync::Mutex::new(Some(Box::pin(teardown)));
        self
    }

    pub async fn finish(self) {
        let _ = self.factory.shutdown().await;
        let teardown = self
            .teardown
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(teardown) = teardown {
            teardown.await;
        }
    }
}

/// Runs one case on a fresh multi-threaded runtime (used by the macro, so layer crates need
/// no tokio test macros).
pub fn run<F, Fut>(
    open: F,
    case: for<'a> fn(&'a Fixture) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
) where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Fixture>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("test runtime");
    runtime.block_on(async {
        let fixture = open().await;
        case(&fixture).await;
        fixture.finish().await;
    });
}

/// Expands to one `#[test]` per conformance case inside `mod $layer`, each opening a fresh
/// layer with `$open` (an async fn path returning a [`Fixture`]).
#[macro_export]
macro_rules! conformance_suite {
    ($layer:ident, $open:path) => {
        $crate::__conformance_cases!($layer, $open;
            get_returns_stored_bytes,
            list_filters_clusters_namespaces_names,
            same_name_in_two_clusters,
            cluster_scoped_resources,
            label_selector_equality,
            label_selector_sets,
            label_selector_numeric,
            field_selector_metadata_columns,
            field_selector_status_and_annotations,
            field_selector_list_paths,
            extra_labels_unknown_are_rejected,
            fuzzy_name,
            since_and_before,
            only_metadata,
            authorization_grants_limit_what_is_read,
            order_by_each_field,
            order_by_several_fields,
            order_by_resource_version_is_numeric,
            pagination_visits_every_item_once,
            pagination_survives_writes_between_pages,
            remaining_count,
            list_stream_equals_unpaged_list,
            list_stream_reflects_its_revision,
            with_continue_false_suppresses_token,
            continue_token_from_other_query_is_rejected,
            owner_uid_seniority,
            owner_name_and_group_resource,
            upsert_is_idempotent,
            upsert_replaces_older_version_and_labels,
            stale_resource_version_is_not_written,
            delete_and_missing_delete,
            mixed_batch_applies_in_order,
            resource_versions_by_cluster,
            clean_cluster,
            clean_cluster_resource,
            watch_from_revision_is_ordered_without_gaps,
            watch_delivers_live_changes,
            watch_filters_cluster_namespace_labels,
            watch_request_sends_initial_state,
            large_objects_round_trip,
            unicode_content,
            list_revision_tracks_writes,
            collection_lists_across_resources,
            stored_resources_lists_types_and_clusters,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($layer:ident, $open:path; $($case:ident),* $(,)?) => {
        mod $layer {
            $(
                #[test]
                fn $case() {
                    $crate::conformance::run($open, |fixture| {
                        ::std::boxed::Box::pin($crate::conformance::$case(fixture))
                    });
                }
            )*
        }
    };
}
