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
    /// Create a tag; creating one that exists returns it. Creating a tag
    /// twice changes nothing, so a 5xx or a lost connection is retried as
    /// for a GET, and a 422 counts as success when the tag exists.
    pub async fn create_tag(&self, name: &str) -> Result<Tag, CloudError> {
        validate_tag_name(name)?;
        let mut request = ApiRequest::new(reqwest::Method::POST, "/v2/tags", "tag:create");
        request.body = Some(serde_json::json!({"name": name}));
        request.retry_transient = true;

        match self.fetch::<TagBody>(&request).await {
            Ok(body) => Ok(body.tag),
            Err(error) if error.is_rejection() => match self.tag(name).await? {
                Some(tag) => {
                    tracing::debug!(tag = name, error = %error, "tag exists already; using it");
                    Ok(tag)
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// Returns the tag `name`, or `None` when the account has no such tag.
    /// URLs need the tag's first spelling, so another case is not found.
    pub async fn tag(&self, name: &str) -> Result<Option<Tag>, CloudError> {
        let request = ApiRequest::get(format!("/v2/tags/{}", segment(name)), "tag:read");
        match self.fetch::<TagBody>(&request).await {
            Ok(body) => Ok(Some(body.tag)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
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
        // Tagging a resource that has the tag changes nothing.
        request.retry_transient = true;
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
