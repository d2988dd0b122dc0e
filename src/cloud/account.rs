//! The token check.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient};
use crate::cloud::error::CloudError;
use crate::cloud::models::Account;

#[derive(Deserialize)]
struct AccountBody {
    account: Account,
}

impl CloudClient {
    /// `GET /v2/account`: check the token and return the account it belongs
    /// to. An invalid token fails with [`CloudError::Unauthorized`].
    pub async fn account(&self) -> Result<Account, CloudError> {
        let request = ApiRequest::get("/v2/account", "account:read");
        let body: AccountBody = self.fetch(&request).await?;
        Ok(body.account)
    }
}
