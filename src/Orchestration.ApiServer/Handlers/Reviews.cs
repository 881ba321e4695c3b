using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Routing;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Handlers;

/// <summary>
/// The review kinds, answered and never stored: SelfSubjectAccessReview, SubjectAccessReview and
/// LocalSubjectAccessReview (may this user do this? <c>kubectl auth can-i</c>),
/// SelfSubjectRulesReview (what may I do here? <c>kubectl auth can-i --list</c>) and
/// SelfSubjectReview (who am I? <c>kubectl auth whoami</c>) and TokenReview (whom does this token
/// stand for?). The request's object comes back with
/// its status filled in, as kube-apiserver returns it.
/// </summary>
internal static class Reviews
{
    /// <summary>The user of a server without authentication (plain HTTP): privileged, as kube-apiserver's insecure port was.</summary>
    private static readonly UserInfo Unsecured = new("system:unsecured", [UserInfo.MastersGroup, UserInfo.AuthenticatedGroup]);

    /// <summary>Whether <paramref name="kind"/> is a review this handler answers.</summary>
    public static bool Answers(ResourceKind kind) => kind.Kind is "SelfSubjectAccessReview" or "SubjectAccessReview" or "LocalSubjectAccessReview" or "SelfSubjectRulesReview" or "SelfSubjectReview" or "TokenReview";

    /// <summary>The requesting user, or the privileged unsecured user where the server authenticates no one.</summary>
    public static UserInfo UserOf(HttpContext context) => UserInfo.Of(context) ?? Unsecured;

    /// <summary>Answers the review in the request.</summary>
    public static async Task HandleAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, long bodyLimit, RequestAuthorization authorization, IEnumerable<IRuleResolver> ruleResolvers, Security.Tokens.TokenAuthenticators tokens)
    {
        if (context.Request.Method != "POST" || path.Name is not null || path.Subresource is not null)
        {
            throw ApiErrors.MethodNotAllowed(context.Request.Method, $"{kind.Plural} (only create is served)");
        }

        var body = await RequestBodies.ReadObjectAsync(context.Request, bodyLimit, context.RequestAborted).ConfigureAwait(false);
        var user = UserOf(context);
        var spec = body["spec"] as JsonObject ?? [];
        var status = kind.Kind switch
        {
            "SelfSubjectReview" => new JsonObject { ["userInfo"] = UserJson(user) },
            "TokenReview" => await TokenStatusAsync(tokens, spec, context.RequestAborted).ConfigureAwait(false),
            "SelfSubjectRulesReview" => RulesStatus(ruleResolvers, user, spec["namespace"]?.ToString() ?? ""),
            "SelfSubjectAccessReview" => await AccessStatusAsync(context, authorization, kind, user, spec, null).ConfigureAwait(false),
            "LocalSubjectAccessReview" => await AccessStatusAsync(context, authorization, kind, SubjectOf(kind, spec), spec, path.Namespace ?? "").ConfigureAwait(false),
            _ => await AccessStatusAsync(context, authorization, kind, SubjectOf(kind, spec), spec, null).ConfigureAwait(false),
        };

        body["apiVersion"] = kind.Group.Length == 0 ? version : $"{kind.Group}/{version}";
        body["kind"] = kind.Kind;
        var metadata = body["metadata"] as JsonObject ?? [];
        metadata["creationTimestamp"] = null;
        body["metadata"] = metadata;
        body["status"] = status;
        await ApiJson.WriteAsync(context, 201, body).ConfigureAwait(false);
    }

    // TokenReview: who the token in the spec stands for, as the authentication filter would say.
    private static async Task<JsonObject> TokenStatusAsync(Security.Tokens.TokenAuthenticators tokens, JsonObject spec, CancellationToken cancellationToken)
    {
        var token = spec["token"]?.ToString() ?? "";
        var user = token.Length == 0 ? null : await tokens.AuthenticateAsync(token, cancellationToken).ConfigureAwait(false);
        return user is null
            ? new JsonObject { ["authenticated"] = false, ["user"] = new JsonObject(), ["error"] = "invalid bearer token" }
            : new JsonObject { ["authenticated"] = true, ["user"] = UserJson(user), ["audiences"] = new JsonArray(JsonValue.Create(Security.Tokens.ServiceAccountTokens.DefaultIssuer)) };
    }

    private static async Task<JsonObject> AccessStatusAsync(HttpContext context, RequestAuthorization authorization, ResourceKind kind, UserInfo user, JsonObject spec, string? pathNamespace)
    {
        var attributes = AttributesOf(kind, user, spec);
        if (pathNamespace is not null && attributes.Namespace != pathNamespace)
        {
            throw new InvalidException(kind.Group, kind.Kind, "", [ObjectValidation.InvalidValue("spec.resourceAttributes.namespace", attributes.Namespace, "must match metadata.namespace")]);
        }

        var decision = await authorization.AuthorizeAsync(attributes, context.RequestAborted).ConfigureAwait(false);
        var status = new JsonObject { ["allowed"] = decision.Verdict == AuthorizationVerdict.Allow };
        if (decision.Verdict == AuthorizationVerdict.Deny && decision.Reason.Length > 0)
        {
            status["denied"] = true;
        }

        if (decision.Reason.Length > 0)
        {
            status["reason"] = decision.Reason;
        }

        return status;
    }

    private static AuthorizationAttributes AttributesOf(ResourceKind kind, UserInfo user, JsonObject spec)
    {
        if (spec["resourceAttributes"] is JsonObject resource)
        {
            return new AuthorizationAttributes
            {
                User = user,
                Verb = resource["verb"]?.ToString() ?? "",
                IsResourceRequest = true,
                ApiGroup = resource["group"]?.ToString() ?? "",
                ApiVersion = resource["version"]?.ToString() ?? "",
                Resource = resource["resource"]?.ToString() ?? "",
                Subresource = resource["subresource"]?.ToString() ?? "",
                Namespace = resource["namespace"]?.ToString() ?? "",
                Name = resource["name"]?.ToString() ?? "",
            };
        }

        if (spec["nonResourceAttributes"] is JsonObject nonResource)
        {
            return new AuthorizationAttributes { User = user, Verb = nonResource["verb"]?.ToString() ?? "", Path = nonResource["path"]?.ToString() ?? "" };
        }

        throw new InvalidException(kind.Group, kind.Kind, "", [ObjectValidation.Required("spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
    }

    // The user a SubjectAccessReview asks about: as given, with no group added (kube-apiserver takes the spec as it is).
    private static UserInfo SubjectOf(ResourceKind kind, JsonObject spec)
    {
        var name = spec["user"]?.ToString() ?? "";
        var groups = (spec["groups"] as JsonArray ?? []).Select(g => g?.ToString() ?? "").Where(g => g.Length > 0).ToList();
        if (name.Length == 0 && groups.Count == 0)
        {
            throw new InvalidException(kind.Group, kind.Kind, "", [ObjectValidation.InvalidValue("spec.user", "", "at least one of user or group must be specified")]);
        }

        return new UserInfo(name, groups, spec["uid"]?.ToString() ?? "");
    }

    private static JsonObject RulesStatus(IEnumerable<IRuleResolver> resolvers, UserInfo user, string @namespace)
    {
        var resourceRules = new JsonArray();
        var nonResourceRules = new JsonArray();
        var incomplete = false;
        if (user.InGroup(UserInfo.MastersGroup))
        {
            resourceRules.Add(new JsonObject { ["verbs"] = Strings(["*"]), ["apiGroups"] = Strings(["*"]), ["resources"] = Strings(["*"]) });
            nonResourceRules.Add(new JsonObject { ["verbs"] = Strings(["*"]), ["nonResourceURLs"] = Strings(["*"]) });
        }

        foreach (var resolver in resolvers)
        {
            var (resources, nonResources, partial) = resolver.RulesFor(user, @namespace);
            incomplete |= partial;
            foreach (var rule in resources)
            {
                var json = new JsonObject { ["verbs"] = Strings(rule.Verbs), ["apiGroups"] = Strings(rule.ApiGroups), ["resources"] = Strings(rule.Resources) };
                if (rule.ResourceNames.Count > 0)
                {
                    json["resourceNames"] = Strings(rule.ResourceNames);
                }

                resourceRules.Add(json);
            }

            foreach (var rule in nonResources)
            {
                nonResourceRules.Add(new JsonObject { ["verbs"] = Strings(rule.Verbs), ["nonResourceURLs"] = Strings(rule.NonResourceUrls) });
            }
        }

        return new JsonObject { ["resourceRules"] = resourceRules, ["nonResourceRules"] = nonResourceRules, ["incomplete"] = incomplete };
    }

    private static JsonObject UserJson(UserInfo user)
    {
        var json = new JsonObject { ["username"] = user.Name, ["groups"] = Strings(user.Groups) };
        if (user.Uid.Length > 0)
        {
            json["uid"] = user.Uid;
        }

        if (user.Extra.Count > 0)
        {
            json["extra"] = new JsonObject(user.Extra.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)Strings(e.Value))));
        }

        return json;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}
