import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The bundle goes to the web project's wwwroot, which Conductor.Web serves (and publishes).
// `npm run dev` proxies /api to the Api like Conductor.Web does (CONDUCTOR_API_URL, default http://localhost:5080).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../wwwroot",
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      onwarn(warning, warn) {
        // @microsoft/signalr's published ESM carries /*#__PURE__*/ comments Rollup cannot place; harmless, and noise
        // in every `dotnet build`.
        if (warning.code === "INVALID_ANNOTATION" && warning.id?.includes("@microsoft/signalr")) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      "/api": {
        target: process.env.CONDUCTOR_API_URL ?? "http://localhost:5080",
        ws: true,
        rewrite: (path) => path.replace(/^\/api/, ""),
      },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
