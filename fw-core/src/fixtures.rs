//! Seeded, deterministic generators of GitHub meta responses for tests and benchmarks.
//! STUB: being written by a helper.
