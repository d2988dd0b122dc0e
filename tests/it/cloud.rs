//! The DigitalOcean API client against local HTTP fakes (wiremock), one per
//! case. Waits go through a `ManualClock`, so the tests assert them without
//! sleeping.

mod adoption;
mod endpoints;
mod field_cases;
mod harness;
mod pagination;
mod post_fake;
mod redaction;
mod retries;
mod spec_conformance;
