using Conductor.Data;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddConductorDatabase();
builder.Services.AddOpenApi();

var app = builder.Build();

app.UseServiceDefaults();

app.MapOpenApi().AllowAnonymous();
app.MapDefaultEndpoints();

app.Run();

/// <summary>Entry point, visible to the tests.</summary>
public partial class Program;
