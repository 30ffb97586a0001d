//! placeholder: built by its own issue.
