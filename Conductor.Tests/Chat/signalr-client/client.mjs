// Drives /hubs/chat with the browser/VS Code client library against real Api instances and prints one JSON object
// with what happened. Usage: node client.mjs <json {urls:[a,b], room_id, tokens:{alice,bob,mallory}}>
import { HubConnectionBuilder, LogLevel } from "@microsoft/signalr";
import { randomUUID } from "node:crypto";

const input = JSON.parse(process.argv[2]);
const deadline = setTimeout(() => { console.error("timed out"); process.exit(2); }, 30000);

function connect(url, token) {
  const events = [];
  const connection = new HubConnectionBuilder()
    .withUrl(`${url}/hubs/chat`, { accessTokenFactory: () => token })
    .configureLogging(LogLevel.Warning)
    .build();
  for (const name of ["Message", "Typing", "ReadReceipt", "UserJoined", "UserLeft", "RoomEvent"]) {
    connection.on(name, (payload) => events.push({ event: name, payload }));
  }
  return { connection, events };
}

async function waitFor(events, predicate, what) {
  for (let i = 0; i < 200; i++) {
    const found = events.find(predicate);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${what}; got ${JSON.stringify(events)}`);
}

async function errorOf(promise) {
  try { await promise; return null; } catch (e) { return String(e.message ?? e); }
}

const room = input.room_id;
const alice = connect(input.urls[0], input.tokens.alice);
const bob = connect(input.urls[1], input.tokens.bob);
const mallory = connect(input.urls[0], input.tokens.mallory);
const result = {};
try {
  await alice.connection.start();
  await bob.connection.start();
  await mallory.connection.start();
  result.transport = alice.connection.connection.transport?.constructor?.name ?? null;

  const joinedA = await alice.connection.invoke("JoinRoom", room);
  const joinedB = await bob.connection.invoke("JoinRoom", room);
  result.join = { room_id: joinedB.room_id, messages: joinedB.messages.length, online: joinedB.online.map((u) => u.login).sort(), alice_first: joinedA.room_id };
  result.user_joined = (await waitFor(alice.events, (e) => e.event === "UserJoined" && e.payload.login === "bob", "UserJoined")).payload;

  const id = randomUUID();
  const sent = await alice.connection.invoke("SendMessage", room, { id, content: "hello from node", kind: "text" });
  const resent = await alice.connection.invoke("SendMessage", room, { id, content: "hello from node", kind: "text" });
  result.sent = sent;
  result.resent_same = resent.id === sent.id && resent.seq === sent.seq;
  result.bob_received = (await waitFor(bob.events, (e) => e.event === "Message" && e.payload.id === id, "Message")).payload;

  await bob.connection.invoke("Typing", room);
  result.typing = (await waitFor(alice.events, (e) => e.event === "Typing", "Typing")).payload;
  await bob.connection.invoke("MarkRead", room, id);
  result.read_receipt = (await waitFor(alice.events, (e) => e.event === "ReadReceipt", "ReadReceipt")).payload;
  result.history = (await bob.connection.invoke("LoadHistory", room, { limit: 10 })).map((m) => m.content);

  result.outsider_join_error = await errorOf(mallory.connection.invoke("JoinRoom", room));
  result.outsider_send_error = await errorOf(mallory.connection.invoke("SendMessage", room, { content: "let me in" }));
  result.too_large_error = await errorOf(alice.connection.invoke("SendMessage", room, { content: "x".repeat(16 * 1024 + 1) }));

  await bob.connection.stop();
  result.user_left = (await waitFor(alice.events, (e) => e.event === "UserLeft" && e.payload.login === "bob", "UserLeft")).payload;
  console.log(JSON.stringify(result));
} catch (e) {
  console.log(JSON.stringify({ ...result, failure: String(e.stack ?? e) }));
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await Promise.allSettled([alice.connection.stop(), bob.connection.stop(), mallory.connection.stop()]);
}
