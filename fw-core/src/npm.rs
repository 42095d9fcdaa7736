//! The npm registry's host, read from the container's npm configuration.
//! STUB: being written by a helper.
