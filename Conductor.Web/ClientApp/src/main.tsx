import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiClient, AuthClient } from "./api/client";
import { browserClock, browserLock, localSessionStore, sessionStorageKey } from "./auth/browserSession";
import { SessionManager } from "./auth/session";
import { App } from "./ui/App";
import { ServicesContext, type Services } from "./ui/services";
import "./styles.css";

const auth = new AuthClient();
const session = new SessionManager(localSessionStore, (token) => auth.refresh(token), browserClock, browserLock);
const api = new ApiClient(session);
const services: Services = { session, api, auth };

// Sign-in, refresh and sign-out in another tab apply here too.
window.addEventListener("storage", (event) => {
  if (event.key === sessionStorageKey) {
    session.reload();
  }
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ServicesContext.Provider value={services}>
      <App />
    </ServicesContext.Provider>
  </StrictMode>,
);
