pub mod mutate;
pub mod values;
