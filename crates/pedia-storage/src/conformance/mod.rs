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
//!
//! A new case is a `pub async fn name(fx: &Fixture)` in a file of `cases/`, listed under
//! its file in `__conformance_cases!` below; until it is listed it does not compile (dead
//! code is denied), and once listed it runs in every layer.

// Cases are `pub async fn` in private modules: reachable only through the runners, so an
// unlisted case is dead code.
#[deny(dead_code)]
#[allow(unreachable_pub)]
mod cases;
pub mod fixtures;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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
        let fixture = bounded("opening the layer", open()).await;
        bounded("the case", case(&fixture)).await;
        bounded("shutting the layer down", fixture.finish()).await;
    });
}

/// How long any one step of a case may take. Far above what a case needs on a loaded
/// 2-core machine; a layer that hangs (a lock never released, a pool that never closes)
/// fails its case with the step's name instead of stalling the whole test run.
const STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

async fn bounded<T>(step: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{step} did not finish within {STEP_TIMEOUT:?}"),
    }
}

/// Expands to one `#[test]` per conformance case inside `mod $layer`, each opening a fresh
/// layer with `$open` (an async fn path returning a [`Fixture`]).
#[macro_export]
macro_rules! conformance_suite {
    ($layer:ident, $open:path) => {
        $crate::__conformance_cases!(tests $layer, $open);
    };
}

/// The only list of conformance cases, by the file of `cases/` that defines them. It
/// expands twice: in this crate to one public runner per case ([`suite`]), and in each
/// layer's tests (through [`conformance_suite!`](crate::conformance_suite)) to one test
/// per case calling its runner. The cases themselves are private, and `cases` denies dead
/// code: a case defined but not listed here does not compile.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($($mode:tt)*) => {
        $crate::__conformance_expand! { [$($mode)*]
            filters: [
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
            ],
            order: [
                order_by_each_field,
                order_by_several_fields,
                order_by_resource_version_is_numeric,
            ],
            paging: [
                pagination_visits_every_item_once,
                pagination_survives_writes_between_pages,
                remaining_count,
                with_continue_false_suppresses_token,
                continue_token_from_other_query_is_rejected,
            ],
            owner: [
                owner_uid_seniority,
                owner_name_and_group_resource,
            ],
            write: [
                upsert_is_idempotent,
                upsert_replaces_older_version_and_labels,
                unchanged_needs_same_uid_version_and_bytes,
                lower_resource_version_after_recreate_is_applied,
                later_write_in_a_batch_wins_whatever_its_version,
                different_uid_replaces_the_object,
                delete_and_missing_delete,
                delete_of_another_uid_keeps_the_stored_object,
                mixed_batch_applies_in_order,
                resource_versions_by_cluster,
                clean_cluster,
                clean_cluster_resource,
                fencing_refuses_older_epochs,
                fencing_covers_cleaning,
            ],
            watch: [
                watch_from_revision_is_ordered_without_gaps,
                watch_delivers_live_changes,
                watch_filters_cluster_namespace_labels,
                watch_request_sends_initial_state,
                recreated_object_is_deleted_then_added,
                clean_cluster_emits_a_deleted_per_object,
                clean_cluster_resource_emits_a_deleted_per_object,
            ],
            stream: [
                list_stream_equals_unpaged_list,
                list_stream_reflects_its_revision,
            ],
            collections: [
                collection_lists_exactly_the_granted_items,
                collection_paging_under_grants_visits_granted_items_once,
                collection_remaining_count_counts_granted_items,
            ],
            misc: [
                large_objects_round_trip,
                unicode_content,
                list_revision_tracks_writes,
                collection_lists_across_resources,
                stored_resources_lists_types_and_clusters,
                calls_dropped_midway_leave_the_layer_usable,
            ],
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_expand {
    ([runners] $($file:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $($(
            pub fn $case(fixture: &Fixture) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
                Box::pin(super::cases::$file::$case(fixture))
            }
        )*)*
    };
    ([tests $layer:ident, $open:path] $($file:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        mod $layer {
            $($(
                #[test]
                fn $case() {
                    $crate::conformance::run($open, $crate::conformance::suite::$case);
                }
            )*)*
        }
    };
}

/// One runner per case, for the tests [`conformance_suite!`](crate::conformance_suite)
/// generates.
#[doc(hidden)]
pub mod suite {
    use std::future::Future;
    use std::pin::Pin;

    use super::Fixture;

    crate::__conformance_cases!(runners);
}
