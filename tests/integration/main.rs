//! Integration tests: they drive the real `kroniek` binary (one test binary, one link step).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod api_schema;
mod audit;
mod bench;
mod browser;
mod cli;
mod crash;
mod disk_full;
mod follow;
mod go_reference;
mod http;
mod independent_verifier;
mod proofs;
mod read_models;
mod snapshots;
mod stores;
mod support;
mod web;
mod web_pages;
