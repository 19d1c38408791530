package ssc;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.net.InetSocketAddress;

/** A MongoDB-protocol server on a free loopback port: prints its URI, stops on stdin EOF or SIGTERM. */
public final class Launcher {
    /** Current pymongo refuses servers below wire version 9 (MongoDB 4.4). */
    private static final MongoVersion WIRE_9 = new MongoVersion() {
        @Override
        public java.util.List<Integer> getVersionArray() {
            return java.util.List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    public static void main(String[] args) throws Exception {
        MongoServer server = new MongoServer(new MemoryBackend().version(WIRE_9));
        server.bind("127.0.0.1", 0);
        InetSocketAddress address = server.getLocalAddress();
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("mongodb=mongodb://127.0.0.1:" + address.getPort() + "/");
        System.out.flush();
        while (System.in.read() != -1) {
            // Any input is ignored; end of input means the test session is gone.
        }
        System.exit(0);
    }
}
