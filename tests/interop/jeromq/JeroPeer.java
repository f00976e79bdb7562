// A JeroMQ (0.3.6, ZMTP/2.0) peer for gzmq's interop tests, driven line by line on stdin.
//
//   java -cp jeromq.jar:. JeroPeer TYPE bind|connect ENDPOINT [IDENTITY_HEX]
//
// Prints "ready" once bound or connected, then for each command line:
//   send HEX...     one multipart message, "-" for an empty frame   -> "sent"
//   recv            the next message (10 s timeout)                   -> "msg HEX..." or "timeout"
//   sub HEX / unsub HEX                                               -> "ok"
//   quit
import java.io.BufferedReader;
import java.io.InputStreamReader;
import org.zeromq.ZMQ;

public class JeroPeer {
    static byte[] unhex(String s) {
        if (s.equals("-")) return new byte[0];
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++)
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    static String hex(byte[] b) {
        if (b.length == 0) return "-";
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x & 0xff));
        return sb.toString();
    }

    static int type(String name) {
        switch (name) {
            case "PAIR": return ZMQ.PAIR;
            case "PUB": return ZMQ.PUB;
            case "SUB": return ZMQ.SUB;
            case "REQ": return ZMQ.REQ;
            case "REP": return ZMQ.REP;
            case "DEALER": return ZMQ.DEALER;
            case "ROUTER": return ZMQ.ROUTER;
            case "PULL": return ZMQ.PULL;
            case "PUSH": return ZMQ.PUSH;
            case "XPUB": return ZMQ.XPUB;
            case "XSUB": return ZMQ.XSUB;
        }
        throw new IllegalArgumentException(name);
    }

    public static void main(String[] args) throws Exception {
        ZMQ.Context ctx = ZMQ.context(1);
        ZMQ.Socket sock = ctx.socket(type(args[0]));
        sock.setLinger(0);
        sock.setReceiveTimeOut(10000);
        if (args.length > 3) sock.setIdentity(unhex(args[3]));
        if (args[1].equals("bind")) sock.bind(args[2]); else sock.connect(args[2]);
        System.out.println("ready");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            if (w[0].equals("quit")) break;
            if (w[0].equals("send")) {
                for (int i = 1; i < w.length; i++)
                    sock.send(unhex(w[i]), i < w.length - 1 ? ZMQ.SNDMORE : 0);
                System.out.println("sent");
            } else if (w[0].equals("recv")) {
                byte[] first = sock.recv(0);
                if (first == null) {
                    System.out.println("timeout");
                } else {
                    StringBuilder sb = new StringBuilder("msg ").append(hex(first));
                    while (sock.hasReceiveMore()) sb.append(' ').append(hex(sock.recv(0)));
                    System.out.println(sb);
                }
            } else if (w[0].equals("sub")) {
                sock.subscribe(unhex(w[1]));
                System.out.println("ok");
            } else if (w[0].equals("unsub")) {
                sock.unsubscribe(unhex(w[1]));
                System.out.println("ok");
            }
            System.out.flush();
        }
        sock.close();
        ctx.term();
    }
}
