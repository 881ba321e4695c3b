/*
 * udp-echo: the UDP server and client the test image needs, since busybox's nc has no UDP mode.
 *   udp-echo serve PORT                   answers every datagram on 0.0.0.0:PORT with "HOSTNAME PAYLOAD"
 *   udp-echo send IPV4 PORT TEXT [SECONDS] sends TEXT, prints the answer; exit 1 when none comes in time
 * Built static by scripts/build-images.sh into the image's /bin.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int usage(void)
{
    fputs("usage: udp-echo serve PORT | udp-echo send IPV4 PORT TEXT [SECONDS]\n", stderr);
    return 2;
}

static int serve(int port)
{
    char host[256] = "", buffer[1024], answer[1400];
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    gethostname(host, sizeof host - 1);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        perror("udp-echo: bind");
        return 1;
    }
    for (;;) {
        struct sockaddr_in peer;
        socklen_t length = sizeof peer;
        ssize_t n = recvfrom(fd, buffer, sizeof buffer - 1, 0, (struct sockaddr *)&peer, &length);
        if (n < 0)
            continue;
        buffer[n] = 0;
        int size = snprintf(answer, sizeof answer, "%s %s", host, buffer);
        sendto(fd, answer, (size_t)size, 0, (struct sockaddr *)&peer, length);
    }
}

static int send_one(const char *ip, int port, const char *text, int seconds)
{
    char buffer[1500];
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
    struct timeval timeout = { .tv_sec = seconds };
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (inet_pton(AF_INET, ip, &address.sin_addr) != 1)
        return usage();
    /* connect() so that only the address sent to may answer (as a resolver checks). */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0
        || connect(fd, (struct sockaddr *)&address, sizeof address) < 0 || send(fd, text, strlen(text), 0) < 0) {
        perror("udp-echo: send");
        return 1;
    }
    ssize_t n = recv(fd, buffer, sizeof buffer - 1, 0);
    if (n < 0) {
        perror("udp-echo: no answer");
        return 1;
    }
    buffer[n] = 0;
    puts(buffer);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "send") == 0)
        return send_one(argv[2], atoi(argv[3]), argv[4], argc == 6 ? atoi(argv[5]) : 3);
    return usage();
}
