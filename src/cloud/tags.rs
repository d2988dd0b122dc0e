//! Tags, and tagging resources.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient, segment};
use crate::cloud::error::CloudError;
use crate::cloud::models::{Tag, TaggedResource};

/// The API's limit on a tag's length.
const MAX_TAG_LENGTH: usize = 255;

#[derive(Deserialize)]
struct TagBody {
    tag: Tag,
}

/// Check a tag name against the API's rules: letters, digits, `_`, `-` and
/// `:`, at most 255 characters.
pub fn validate_tag_name(name: &str) -> Result<(), CloudError> {
    let invalid = |reason: String| CloudError::InvalidInput {
        what: "tag",
        value: name.to_string(),
        reason,
    };

    if name.is_empty() {
        return Err(invalid("it is empty".to_string()));
    }
    if name.len() > MAX_TAG_LENGTH {
        return Err(invalid(format!(
            "it is longer than {MAX_TAG_LENGTH} characters"
        )));
    }
    let allowed = |character: char| character.is_ascii_alphanumeric() || "_-:".contains(character);
    if let Some(bad) = name.chars().find(|character| !allowed(*character)) {
        return Err(invalid(format!(
            "`{bad}` is not allowed; use letters, digits, `_`, `-` and `:`"
        )));
    }
    Ok(())
}

impl CloudClient {
    /// Create a tag; creating one that exists returns it.
    pub async fn create_tag(&self, name: &str) -> Result<Tag, CloudError> {
        validate_tag_name(name)?;
        let mut request = ApiRequest::new(reqwest::Method::POST, "/v2/tags", "tag:create");
        request.body = Some(serde_json::json!({"name": name}));
        let body: TagBody = self.fetch(&request).await?;
        Ok(body.tag)
    }

    /// Tag resources with `tag`, which must exist.
    pub async fn tag_resources(
        &self,
        tag: &str,
        resources: &[TaggedResource],
    ) -> Result<(), CloudError> {
        validate_tag_name(tag)?;
        let path = format!("/v2/tags/{}/resources", segment(tag));
        let mut request = ApiRequest::new(reqwest::Method::POST, path, "tag:create");
        request.body = Some(serde_json::json!({"resources": resources}));
        self.execute(&request).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::validate_tag_name;

    #[test]
    fn tag_names() {
        assert!(validate_tag_name("wwctl-run:20240101T000000Z-ab12").is_ok());
        assert!(validate_tag_name("").is_err());
        let error = validate_tag_name("run tag").unwrap_err();
        assert!(error.to_string().contains("` ` is not allowed"), "{error}");
        assert!(validate_tag_name(&"a".repeat(256)).is_err());
    }
}
