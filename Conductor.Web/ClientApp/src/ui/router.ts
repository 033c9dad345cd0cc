import { useEffect, useState } from "react";

/** The app's few routes, on the History API (no router package needed for three paths). */
export type Route =
  | { page: "rooms" }
  | { page: "room"; roomId: string }
  | { page: "join"; token: string };

export function parseRoute(location: Pick<Location, "pathname" | "search">): Route {
  const room = /^\/rooms\/([0-9a-fA-F-]{36})\/?$/.exec(location.pathname);
  if (room?.[1]) {
    return { page: "room", roomId: room[1] };
  }
  if (location.pathname === "/join") {
    return { page: "join", token: new URLSearchParams(location.search).get("token") ?? "" };
  }
  return { page: "rooms" };
}

export function navigate(path: string): void {
  window.history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location));
    window.addEventListener("popstate", onChange);
    return () => window.removeEventListener("popstate", onChange);
  }, []);
  return route;
}
