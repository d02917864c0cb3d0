//! stand-in

/// Stand-in.
pub fn event_json(change: &crate::record::Change) -> Option<String> {
    let _ = change;
    None
}

/// Stand-in.
pub fn read_event(topic: &str, key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Option<crate::record::Change>, String> {
    let _ = (topic, key, value);
    Err("stand-in".into())
}
