//! The storage test suite. Every test that touches objects runs against the local store and
//! against the real S3-protocol server the test command starts (see `support`).

mod audit;
mod crash;
mod failures;
mod folders;
mod grants;
mod keys;
mod outbox;
mod quota;
mod roundtrip;
mod sessions;
mod support;
