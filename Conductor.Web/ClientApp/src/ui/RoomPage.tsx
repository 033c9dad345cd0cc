import { useCallback, useEffect, useMemo, useState } from "react";
import type { RoomDetail, RoomEvent } from "../api/contracts";
import { ApiUnavailableError } from "../api/errors";
import { createHubTransport } from "../chat/hubTransport";
import { RoomChat, type RoomChatState } from "../chat/roomChat";
import { ChatPanel } from "./ChatPanel";
import { ErrorText } from "./ErrorText";
import { MembersPanel } from "./MembersPanel";
import { WorkspacePanel } from "../workspace/WorkspacePanel";
import { AiPanel } from "../ai/AiPanel";
import { ConversationsPanel } from "../conversations/ConversationsPanel";
import { CommandsPanel } from "../commands/CommandsPanel";
import { TerminalPanel } from "../terminal/TerminalPanel";
import { navigate } from "./router";
import { useServices } from "./services";

export function RoomPage({ roomId, onUnavailable }: { roomId: string; onUnavailable: () => void }) {
  const { api, session } = useServices();
  const [room, setRoom] = useState<RoomDetail | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [invite, setInvite] = useState<{ url: string; expiresAt: string } | null>(null);
  const [tab, setTab] = useState<"chat" | "workspace" | "commands" | "terminal" | "ai" | "conversations">("chat");
  // Room events (membership, jobs, file changes) for whichever panel wants them.
  const roomEvents = useMemo(() => new Set<(event: RoomEvent) => void>(), []);
  const subscribeRoomEvents = useCallback(
    (listener: (event: RoomEvent) => void) => {
      roomEvents.add(listener);
      return () => {
        roomEvents.delete(listener);
      };
    },
    [roomEvents],
  );
  const me = session.session?.user;

  const load = useCallback(async () => {
    try {
      setRoom(await api.getRoom(roomId));
    } catch (failure) {
      if (failure instanceof ApiUnavailableError) {
        onUnavailable();
      }
      setError(failure);
    }
  }, [api, roomId, onUnavailable]);

  useEffect(() => {
    void load();
  }, [load]);

  const chat = useMemo(() => {
    const onRoomEvent = (event: RoomEvent) => {
      if (event.type === "member_removed" && event.user_id === me?.id) {
        setNotice("You were removed from this room.");
      }
      if (event.type === "room_ended") {
        setNotice("The host ended this session. The room is read-only now.");
      }
      roomEvents.forEach((listener) => listener(event));
      if (event.type.startsWith("member_") || event.type === "host_transferred" || event.type === "room_ended") {
        void load();
      }
    };
    return new RoomChat(createHubTransport(async () => (await api.socketTicket()).ticket), roomId, { onRoomEvent });
  }, [roomId, session, load, me?.id, roomEvents]);

  const [chatState, setChatState] = useState<RoomChatState>(chat.current);
  useEffect(() => {
    const unsubscribe = chat.subscribe(setChatState);
    chat.start().catch(() => undefined);
    return () => {
      unsubscribe();
      void chat.stop();
    };
  }, [chat]);

  // The members list follows who is online from the chat's presence, live.
  const online = useMemo(() => new Set(chatState.online.map((user) => user.user_id)), [chatState.online]);

  const copyInvite = async () => {
    setError(null);
    try {
      const created = await api.createInvite(roomId);
      const url = new URL(created.url, window.location.origin).toString();
      setInvite({ url, expiresAt: created.expires_at });
      await navigator.clipboard?.writeText(url).catch(() => undefined);
    } catch (failure) {
      setError(failure);
    }
  };

  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await load();
    } catch (failure) {
      setError(failure);
    }
  };

  if (!room) {
    return (
      <main className="page">
        {error ? <ErrorText error={error} /> : <p aria-busy="true">Opening room…</p>}
        <button type="button" onClick={() => navigate("/")}>
          Back to rooms
        </button>
      </main>
    );
  }

  const isHost = room.role === "host";
  const ended = room.ended_at !== null;
  return (
    <main className="room">
      <header className="room-header">
        <h1>{room.name}</h1>
        <span className="role">{room.role}</span>
        {ended && <span className="ended">Ended (read-only)</span>}
        <span className={`status status-${chatState.status}`} role="status">
          {chatState.status === "connected" ? "Live" : chatState.status === "reconnecting" ? "Reconnecting…" : chatState.status === "connecting" ? "Connecting…" : "Offline"}
        </span>
        {isHost && !ended && (
          <>
            <button type="button" onClick={() => void copyInvite()}>
              Copy invite link
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (window.confirm("End this session for everyone? The room becomes read-only.")) {
                  void act(() => api.endRoom(roomId));
                }
              }}
            >
              End session
            </button>
          </>
        )}
      </header>
      {invite && (
        <p className="invite" role="status">
          <label htmlFor="invite-link">Invite link</label>{" "}
          <input id="invite-link" readOnly value={invite.url} onFocus={(event) => event.target.select()} />{" "}
          <span className="hint">copied to the clipboard; valid until {new Date(invite.expiresAt).toLocaleString()}</span>
        </p>
      )}
      {notice && <p className="notice" role="alert">{notice}</p>}
      <ErrorText error={error} />
      <div className="tabs" role="tablist" aria-label="Room views">
        <button type="button" role="tab" aria-selected={tab === "chat"} onClick={() => setTab("chat")}>
          Chat
        </button>
        <button type="button" role="tab" aria-selected={tab === "workspace"} onClick={() => setTab("workspace")}>
          Workspace
        </button>
        <button type="button" role="tab" aria-selected={tab === "commands"} onClick={() => setTab("commands")}>
          Commands
        </button>
        <button type="button" role="tab" aria-selected={tab === "terminal"} onClick={() => setTab("terminal")}>
          Terminal
        </button>
        <button type="button" role="tab" aria-selected={tab === "ai"} onClick={() => setTab("ai")}>
          AI
        </button>
        <button type="button" role="tab" aria-selected={tab === "conversations"} onClick={() => setTab("conversations")}>
          Conversations
        </button>
      </div>
      <div className="room-body">
        {tab === "chat" ? (
          <ChatPanel chat={chat} state={chatState} readOnly={ended || notice !== null} me={me?.id ?? ""} />
        ) : tab === "workspace" ? (
          <WorkspacePanel roomId={roomId} readOnly={ended || notice !== null} subscribe={subscribeRoomEvents} />
        ) : tab === "commands" ? (
          <CommandsPanel roomId={roomId} readOnly={ended || notice !== null} subscribe={subscribeRoomEvents} />
        ) : tab === "terminal" ? (
          <TerminalPanel roomId={roomId} isHost={isHost} readOnly={ended || notice !== null} me={me?.id ?? ""} members={room.members} />
        ) : tab === "ai" ? (
          <AiPanel roomId={roomId} readOnly={ended || notice !== null} subscribe={subscribeRoomEvents} />
        ) : (
          <ConversationsPanel roomId={roomId} readOnly={ended || notice !== null} />
        )}
        <MembersPanel
          room={room}
          me={me?.id ?? ""}
          online={online}
          onTransfer={(userId) => void act(() => api.transferHost(roomId, userId))}
          onRemove={(userId) => void act(() => api.removeMember(roomId, userId))}
        />
      </div>
    </main>
  );
}
