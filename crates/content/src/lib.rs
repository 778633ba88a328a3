//! Content loading.
