//! Splunk time semantics. TODO(time helper).
