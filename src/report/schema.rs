//! JSON Schemas (draft 2020-12) of the two contracts, generated from the Rust types with
//! schemars: `daos-preflight schema report|facts`. The golden copies in `tests/golden/`
//! make any change to them visible in review.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::facts::{FACTS_SCHEMA, Facts};

use super::{REPORT_SCHEMA, Report};

/// The schema of `check --format json` (`daos-preflight/report/v1`).
pub fn report_schema() -> Value {
    let mut v = generate::<Report>();
    pin_schema_id(&mut v, REPORT_SCHEMA);
    if let Some(facts) = v.pointer_mut("/$defs/Facts") {
        pin_schema_id(facts, FACTS_SCHEMA);
    }
    v
}

/// The schema of `facts --format json` (`daos-preflight/facts/v1`).
pub fn facts_schema() -> Value {
    let mut v = generate::<Facts>();
    pin_schema_id(&mut v, FACTS_SCHEMA);
    v
}

fn generate<T: schemars::JsonSchema>() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.to_value()
}

/// The `schema` member is a constant: a reader can tell the contract (and its version)
/// from the document alone.
fn pin_schema_id(object_schema: &mut Value, id: &str) {
    if let Some(p) = object_schema.pointer_mut("/properties/schema") {
        *p = serde_json::json!({ "type": "string", "const": id, "description": format!("Always `{id}`.") });
    }
}
