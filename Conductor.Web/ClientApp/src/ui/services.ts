import { createContext, useContext, useEffect, useState } from "react";
import type { ApiClient, AuthClient } from "../api/client";
import type { SessionManager, SignOutReason, StoredSession } from "../auth/session";

export interface Services {
  session: SessionManager;
  api: ApiClient;
  auth: AuthClient;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) {
    throw new Error("ServicesContext is missing");
  }
  return services;
}

export function useSession(): { session: StoredSession | null; reason: SignOutReason | null } {
  const { session } = useServices();
  const [state, setState] = useState<{ session: StoredSession | null; reason: SignOutReason | null }>({
    session: session.session,
    reason: null,
  });
  useEffect(() => session.subscribe((current, reason) => setState({ session: current, reason })), [session]);
  return state;
}
