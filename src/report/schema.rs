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

/// Members that may be absent (serialized only when set): `(type, member)`.
/// Every other member is required: unknown values are `null`, never absent (design.md §3).
const OPTIONAL_MEMBERS: &[(&str, &str)] = &[("CheckResult", "daos_fault_code")];

fn generate<T: schemars::JsonSchema>() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut v = schema.to_value();
    let root_name = T::schema_name().to_string();
    require_all_members(&mut v, &root_name);
    if let Some(Value::Object(defs)) = v.get_mut("$defs") {
        for (name, def) in defs.iter_mut() {
            require_all_members(def, name);
        }
    }
    v
}

/// schemars leaves `Option` members out of `required` (serde accepts them missing); the
/// contract is stricter: the member is there, `null` when unknown.
fn require_all_members(object_schema: &mut Value, type_name: &str) {
    let Some(Value::Object(props)) = object_schema.get("properties") else {
        return;
    };
    let required: Vec<Value> = props
        .keys()
        .filter(|k| !OPTIONAL_MEMBERS.contains(&(type_name, k.as_str())))
        .map(|k| Value::String(k.clone()))
        .collect();
    if let Value::Object(o) = object_schema {
        o.insert("required".into(), Value::Array(required));
    }
}

/// The `schema` member is a constant: a reader can tell the contract (and its version)
/// from the document alone.
fn pin_schema_id(object_schema: &mut Value, id: &str) {
    if let Some(p) = object_schema.pointer_mut("/properties/schema") {
        *p = serde_json::json!({ "type": "string", "const": id, "description": format!("Always `{id}`.") });
    }
}
