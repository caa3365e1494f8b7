//! Lambda functions to put behind a GlobalApi, made in moto: Lambda insists
//! on an existing IAM role, and the crate has no IAM client, so the role is
//! made by one hand-written call of IAM's Query API.

use std::{
    io::{Read, Write},
    net::TcpStream,
};

use aws_sdk_lambda::{
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use globalapi::aws::AwsClients;

use super::env;

/// A function and the role it was made with, in the account of the access
/// key id that made them.
pub struct LambdaBackend {
    pub arn: String,
    pub role_name: String,
    akid: String,
}

impl LambdaBackend {
    /// A function `name` in `region`, through `clients`, whose access key id
    /// is `akid` (the account the front maps it to holds role and function).
    pub async fn create(clients: &AwsClients, akid: &str, region: &str, name: &str) -> Self {
        let role_name = format!("{name}-role");
        let role = create_role(akid, &role_name);
        let function = clients
            .lambda(region)
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .role(role)
            .handler("index.handler")
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(b"not really a zip".to_vec()))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
        Self {
            arn: function.function_arn().expect("function ARN").to_owned(),
            role_name,
            akid: akid.to_owned(),
        }
    }

    /// Deletes the function and its role.
    pub async fn delete(self, clients: &AwsClients, region: &str) {
        clients
            .lambda(region)
            .delete_function()
            .function_name(&self.arn)
            .send()
            .await
            .expect("DeleteFunction");
        iam(
            &self.akid,
            &format!(
                "Action=DeleteRole&Version=2010-05-08&RoleName={}",
                self.role_name
            ),
        );
    }
}

/// A role Lambda accepts; its ARN, as IAM answers it.
fn create_role(akid: &str, name: &str) -> String {
    let answer = iam(
        akid,
        &format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%7D"
        ),
    );
    answer
        .split_once("<Arn>")
        .and_then(|(_, rest)| rest.split_once("</Arn>"))
        .map(|(arn, _)| arn.to_owned())
        .unwrap_or_else(|| panic!("no role ARN in {answer}"))
}

/// One call of IAM's Query API as `akid` (moto routes by the credential
/// scope and does not check signatures); the answer, which must be a 200.
fn iam(akid: &str, body: &str) -> String {
    let endpoint = env().aws_endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={akid}/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(host).expect("connect to the emulator");
    stream
        .write_all(request.as_bytes())
        .expect("send the IAM request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the IAM response");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "IAM call failed: {response}"
    );
    response
}
