// The suites start real Postgres (through setpriv), Redis and git processes: they run on Linux, like CI.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
