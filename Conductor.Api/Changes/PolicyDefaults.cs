namespace Conductor.Api.Changes;

/// <summary>The default pattern lists (documented in docs/changes-and-policy.md).</summary>
public static class PolicyDefaults
{
    public static readonly string[] Config =
    [
        "appsettings*.json", "*.config", "*.ini", "*.toml", "*.yaml", "*.yml", "*.csproj", "*.props", "*.targets", "*.sln",
        "package.json", "tsconfig*.json", ".editorconfig", "global.json", "nuget.config", "pyproject.toml", "setup.cfg",
    ];

    public static readonly string[] Ci =
    [
        ".github/**", ".gitlab-ci.yml", ".ci/**", ".circleci/**", "azure-pipelines.yml", "Jenkinsfile", ".buildkite/**",
        ".travis.yml", "bitbucket-pipelines.yml",
    ];

    public static readonly string[] Infrastructure =
    [
        "Dockerfile*", "docker-compose*.yml", "docker-compose*.yaml", "*.tf", "*.tfvars", "*.bicep", "azure.yaml",
        "aspire-manifest.json", "k8s/**", "helm/**", "infra/**", "deploy/**", "Makefile",
    ];

    public static readonly string[] Lock =
    [
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "packages.lock.json", "Cargo.lock", "poetry.lock", "go.sum",
        "Gemfile.lock", "composer.lock", "Pipfile.lock",
    ];

    public static readonly string[] Secret =
    [
        ".env", ".env.*", "*.pem", "*.key", "*.pfx", "*.p12", "*.jks", "id_rsa*", "id_ed25519*", "secrets.json",
        "*secret*", "credentials*", ".npmrc", ".pypirc", ".netrc",
    ];

    public static readonly string[] SecretContent =
    [
        @"-----BEGIN [A-Z ]*PRIVATE KEY-----",
        @"\bAKIA[0-9A-Z]{16}\b",
        @"\bsk-[A-Za-z0-9_-]{20,}",
        @"\bgh[pousr]_[A-Za-z0-9]{36}\b",
        @"(?i)\b(api[_-]?key|secret|password|passwd|token)\b\s*[:=]\s*[""'][^""'\s]{12,}[""']",
    ];

    public static readonly string[] Binary =
    [
        "*.png", "*.jpg", "*.jpeg", "*.gif", "*.ico", "*.pdf", "*.zip", "*.gz", "*.tar", "*.7z", "*.exe", "*.dll", "*.so",
        "*.dylib", "*.bin", "*.class", "*.jar", "*.woff", "*.woff2", "*.ttf", "*.mp3", "*.mp4", "*.sqlite", "*.db",
    ];
}
