using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Security.Authorization;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Security.Overload;

/// <summary>
/// Overload protection in the manner of kube-apiserver's max-in-flight limits and API Priority and
/// Fairness: requests run in seats of a priority level (<c>system</c> for nodes and the cluster's
/// own components, <c>workload</c> for everyone else), read-only and mutating ones in separate
/// pools; a request that finds no free seat waits in a bounded queue, and one that finds the queue
/// full or waits too long gets 429 with <c>Retry-After</c> at once, instead of a connection that
/// times out. Members of <c>system:masters</c> are exempt, and so are long-running requests
/// (watch, logs, exec, attach, port-forward), which hold no seat. A noisy workload user therefore
/// cannot take the seats the nodes' heartbeats use.
/// </summary>
public sealed partial class RequestConcurrency
{
    private readonly Dictionary<(string Level, bool Mutating), Pool> _pools;
    private readonly ILogger _logger;

    /// <summary>Seats as <paramref name="options"/> give them: a quarter of each limit for the system level, the rest for workloads.</summary>
    public RequestConcurrency(ApiServerOptions options, ILogger<RequestConcurrency> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        Pool Make(int seats) => new(Math.Max(1, seats), options.MaxQueuedRequests, options.MaxQueueWait);
        _pools = new()
        {
            [("system", false)] = Make(options.MaxRequestsInFlight / 4),
            [("system", true)] = Make(options.MaxMutatingRequestsInFlight / 4),
            [("workload", false)] = Make(options.MaxRequestsInFlight - (options.MaxRequestsInFlight / 4)),
            [("workload", true)] = Make(options.MaxMutatingRequestsInFlight - (options.MaxMutatingRequestsInFlight / 4)),
        };
    }

    /// <summary>How many requests were turned away with 429, per priority level.</summary>
    public IReadOnlyDictionary<string, long> Rejected => _pools.GroupBy(p => p.Key.Level).ToDictionary(g => g.Key, g => g.Sum(p => Interlocked.Read(ref p.Value.Rejected)));

    /// <summary>The priority level of <paramref name="user"/>: <c>system</c> for nodes and the cluster's components, <c>workload</c> otherwise; null when exempt.</summary>
    public static string? LevelOf(UserInfo user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.InGroup(UserInfo.MastersGroup))
        {
            return null;
        }

        return user.InGroup("system:nodes") || user.Name.StartsWith("system:node:", StringComparison.Ordinal) || user.Name.StartsWith("system:kube-", StringComparison.Ordinal)
            || user.Name.StartsWith("system:serviceaccount:kube-system:", StringComparison.Ordinal)
            ? "system"
            : "workload";
    }

    /// <summary>Adds the limits to the pipeline, after authentication and impersonation.</summary>
    public void Use(IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(LimitAsync);
    }

    private async Task LimitAsync(HttpContext context, RequestDelegate next)
    {
        if (UserInfo.Of(context) is not { } user || LevelOf(user) is not { } level)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var attributes = AuthorizationAttributes.Of(context, user);
        if (attributes.IsLongRunning)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var mutating = attributes.Verb is not ("get" or "list") && context.Request.Method is not ("GET" or "HEAD");
        var pool = _pools[(level, mutating)];
        if (!await pool.EnterAsync(context.RequestAborted).ConfigureAwait(false))
        {
            Interlocked.Increment(ref pool.Rejected);
            LogRejected(level, mutating ? "mutating" : "read-only", user.Name);
            context.Response.Headers.RetryAfter = "1";
            var status = ApiJson.StatusOf(new Client.ClusterApiException(429, "TooManyRequests", "Too many requests, please try again later."));
            status["details"] = new JsonObject { ["retryAfterSeconds"] = 1 };
            await ApiJson.WriteAsync(context, 429, status).ConfigureAwait(false);
            return;
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            pool.Exit();
        }
    }

    [LoggerMessage(EventId = 2070, Level = LogLevel.Debug, Message = "429 for {User}: the {Level} level's {Kind} seats and queue are full")]
    private partial void LogRejected(string level, string kind, string user);

    // Seats, and a bounded queue of waiters for them.
    private sealed class Pool(int seats, int queue, TimeSpan maxWait)
    {
        private readonly SemaphoreSlim _seats = new(seats, seats);
        private int _waiting;
        public long Rejected;

        public async Task<bool> EnterAsync(CancellationToken cancellationToken)
        {
            if (_seats.Wait(0, CancellationToken.None))
            {
                return true;
            }

            if (Interlocked.Increment(ref _waiting) > queue)
            {
                Interlocked.Decrement(ref _waiting);
                return false;
            }

            try
            {
                return await _seats.WaitAsync(maxWait, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        public void Exit() => _seats.Release();
    }
}
