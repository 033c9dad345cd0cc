import { apiBase, isGatewayFailure } from "./client";
import { ApiError, ApiUnavailableError, isProblemDetails } from "./errors";

/** The Api's upload limit (Files:MaxUploadBytes): checked here first so a user learns before waiting. */
export const maxUploadBytes = 20 * 1024 * 1024;

export interface UploadedFile {
  file_id: string;
  deduplicated: boolean;
  filename: string;
  size: number;
  content_type: string;
  sha256: string;
}

export class FileTooLargeError extends Error {
  constructor(size: number) {
    super(`This file is too large: ${formatBytes(size)}. Files up to ${formatBytes(maxUploadBytes)} can be shared.`);
    this.name = "FileTooLargeError";
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * POST /files/upload as multipart (room_id first, so a non-member is refused before a byte is sent), with
 * progress. XMLHttpRequest, because fetch reports no upload progress.
 */
export function uploadFile(
  roomId: string,
  file: File,
  accessToken: string,
  onProgress: (fraction: number) => void,
): Promise<UploadedFile> {
  if (file.size > maxUploadBytes) {
    return Promise.reject(new FileTooLargeError(file.size));
  }
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("room_id", roomId);
    form.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", `${apiBase}/files/upload`);
    request.setRequestHeader("Authorization", `Bearer ${accessToken}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      const body: unknown = request.responseText ? safeJson(request.responseText) : undefined;
      if (request.status >= 200 && request.status < 300) {
        resolve(body as UploadedFile);
      } else if (request.status === 413) {
        reject(new FileTooLargeError(file.size));
      } else if (isGatewayFailure(request.status, body)) {
        reject(new ApiUnavailableError(`HTTP ${request.status}`));
      } else {
        reject(new ApiError(request.status, isProblemDetails(body) ? body : {}));
      }
    };
    // The Api answers 413 at the first byte over the limit and may close before the body is sent: a browser then
    // reports a network error. The size is known, so say what really happened.
    request.onerror = () =>
      reject(file.size > maxUploadBytes ? new FileTooLargeError(file.size) : new ApiUnavailableError("network error"));
    request.send(form);
  });
}

/** Downloads a shared file with the bearer token and hands it to the browser as a download. */
export async function downloadFile(fileId: string, name: string, accessToken: string): Promise<void> {
  const response = await fetch(`${apiBase}/files/${encodeURIComponent(fileId)}`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => undefined);
    throw new ApiError(response.status, isProblemDetails(body) ? body : {});
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
