//! Salesforce: OAuth 2.0 JWT bearer flow, Lead upsert by external id through sObject
//! Collections, Users, Accounts, Outbound Message SOAP. Built in its own change.
