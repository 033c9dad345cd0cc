using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Conductor.Api.Rooms;

/// <summary>
/// Shows each room route's access in the OpenAPI document as <c>x-room-access</c> (<c>{"role": "guest"|"host",
/// "write": bool}</c>), so clients can read it and the tests' authorisation sweep derives what to expect from it.
/// </summary>
public static class RoomAccessOpenApi
{
    public const string Extension = "x-room-access";

    public static OpenApiOptions AddRoomAccess(this OpenApiOptions options) =>
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<RoomAccessMetadata>().LastOrDefault() is { } access)
            {
                operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                operation.Extensions[Extension] = new JsonNodeExtension(new JsonObject
                {
                    ["role"] = access.Minimum == RoomRole.Host ? "host" : "guest",
                    ["write"] = access.Write,
                });
                // A route that names its room in the query has no handler parameter for it (the filter reads it).
                if (context.Description.RelativePath?.Contains("{" + RoomScope.Parameter + "}", StringComparison.Ordinal) != true)
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = RoomScope.Parameter,
                        In = ParameterLocation.Query,
                        Required = true,
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" },
                    });
                }
            }
            return Task.CompletedTask;
        });
}
