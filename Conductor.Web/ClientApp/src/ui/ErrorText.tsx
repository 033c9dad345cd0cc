import { ApiError, ApiUnavailableError } from "../api/errors";

/** A readable sentence for any failure: the problem detail's text when the Api gave one. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError || error instanceof ApiUnavailableError) {
    return error.message;
  }
  return error instanceof Error ? error.message : "Something went wrong.";
}

export function ErrorText({ error }: { error: unknown }) {
  if (error === null || error === undefined) {
    return null;
  }
  return (
    <p className="error" role="alert">
      {errorText(error)}
    </p>
  );
}
