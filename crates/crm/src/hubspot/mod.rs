//! HubSpot: CRM v3 batch upsert of contacts by email, owners, companies, webhook v3
//! signatures. Built in its own change.
