//! EXPLAIN (to come)
