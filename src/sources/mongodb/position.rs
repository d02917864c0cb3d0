//! The MongoDB source position: a change-stream resume token, plus the copy's
//! progress while an initial snapshot runs.

use crate::record::Position;
use crate::sources::SnapshotProgress;
use mongodb::bson::Bson;
use mongodb::change_stream::event::ResumeToken;
use serde::{Deserialize, Serialize};

/// Where the source resumes: after `token` (an event's or a batch's resume
/// token), once the snapshot described by `snapshot` is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MongoPosition {
    /// The resume token as canonical Extended JSON.
    pub token: serde_json::Value,
    /// `Some` while the initial copy is incomplete: collections done and the
    /// last `_id` (canonical Extended JSON) of a partly copied one.
    #[serde(default)]
    pub snapshot: Option<SnapshotProgress>,
}

impl MongoPosition {
    /// A position at `token`.
    pub fn new(token: ResumeToken, snapshot: Option<SnapshotProgress>) -> Self {
        let token = mongodb::bson::to_bson(&token).map(Bson::into_canonical_extjson).unwrap_or_default();
        MongoPosition { token, snapshot }
    }

    /// The driver's token.
    pub fn resume_token(&self) -> Result<ResumeToken, String> {
        let b = Bson::try_from(self.token.clone()).map_err(|e| format!("checkpointed resume token: {e}"))?;
        mongodb::bson::from_bson(b).map_err(|e| format!("checkpointed resume token: {e}"))
    }

    /// The record form.
    pub fn to_position(&self) -> Position {
        let token = serde_json::to_vec(self).unwrap_or_default();
        let data = self.token.get("_data").and_then(|d| d.as_str()).unwrap_or("");
        let short = if data.len() > 24 { &data[data.len() - 24..] } else { data };
        let display = match &self.snapshot {
            Some(s) => format!("snapshot ({} collection(s) copied), then stream from token …{short}", s.done.len()),
            None => format!("resume token …{short}"),
        };
        Position { token: token.into(), display }
    }

    /// Reads a checkpointed position.
    pub fn from_position(p: &Position) -> Result<Self, String> {
        let pos: MongoPosition = serde_json::from_slice(&p.token)
            .map_err(|e| format!("the checkpoint is not a mongodb position ({e})"))?;
        pos.resume_token()?;
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_the_record_form() {
        let token: ResumeToken =
            mongodb::bson::from_bson(Bson::Document(mongodb::bson::doc! {"_data": "8263ab00112233"})).unwrap();
        let mut progress = SnapshotProgress::default();
        progress.chunk_emitted("shop.items", false, vec![r#"{"$oid":"65f1c0ffee00112233445566"}"#.into()]);
        for pos in [MongoPosition::new(token.clone(), None), MongoPosition::new(token.clone(), Some(progress.clone()))] {
            let back = MongoPosition::from_position(&pos.to_position()).unwrap();
            assert_eq!(back, pos);
            assert_eq!(back.resume_token().unwrap(), token);
        }
        assert!(MongoPosition::from_position(&Position { token: b"{\"lsn\":1}".to_vec().into(), display: String::new() })
            .unwrap_err()
            .contains("not a mongodb position"));
    }
}
