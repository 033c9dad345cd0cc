-- A client that lost the answer to its refresh (killed mid-request, a VS Code window reloading while the refresh was in
-- flight) presents the same token again. Within Auth:RefreshRetryWindow of the token's first use, and while the successor
-- it never received is unused, it gets a new successor and the lost one is superseded: presenting a superseded token
-- later is reuse, which revokes the family, as presenting a used token after the window is.
ALTER TABLE refresh_tokens ADD COLUMN superseded_at timestamptz NULL;
