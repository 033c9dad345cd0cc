using Conductor.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
// Idempotent: the Api's address comes from Aspire's service discovery (services__api__http__0).
builder.Services.AddServiceDiscovery();
builder.AddApiProxy();

var app = builder.Build();
app.UseServiceDefaults();

// The app shell is served with no-cache (so a new build is picked up at once); the hashed bundles under /assets are
// immutable and cached for a year by the browser.
app.UseDefaultFiles();
app.UseStaticFiles(new StaticFileOptions { OnPrepareResponse = ClientAppCaching.Apply });
app.UseWebSockets();

app.MapDefaultEndpoints();
app.MapReverseProxy();
// The app's own routes (a room, an invite link) load the app shell; any other unknown path stays a 404 problem.
foreach (var clientRoute in ClientAppCaching.ClientRoutes)
{
    app.MapFallbackToFile(clientRoute, "index.html", new StaticFileOptions { OnPrepareResponse = ClientAppCaching.Apply });
}

app.Run();
