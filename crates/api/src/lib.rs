//! kroniek's edge: the `kroniek` command line and the HTTP server.
//!
//! Everything here is glue around `kroniek-core`: parsing flags and requests, printing
//! results, mapping errors to exit statuses.

pub mod cli;
pub mod location;
pub mod server;
pub mod web;
