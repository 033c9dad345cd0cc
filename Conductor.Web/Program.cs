var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

var app = builder.Build();
app.UseServiceDefaults();

app.UseDefaultFiles();
app.UseStaticFiles();

// The browser calls the Api directly (CORS); this hands it the Api's URL, discovered the Aspire way.
app.MapGet("/config.json", (IConfiguration configuration) => TypedResults.Ok(new WebRuntimeConfig(
    ApiUrl: configuration["services:api:https:0"] ?? configuration["services:api:http:0"] ?? "")));

app.MapDefaultEndpoints();
app.Run();

internal sealed record WebRuntimeConfig(string ApiUrl);
