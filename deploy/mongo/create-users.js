// A MongoDB user per service, allowed to read and write its own database only: each service
// keeps everything in the database named after it (shared/mongo.py) and never reads another's.
// The gateway has no user: it never touches the store.
//
// docker-compose.yml runs this once, when the mongo container first starts on an empty volume
// (/docker-entrypoint-initdb.d). Elsewhere run it as a user administrator, with the passwords in
// the environment; a user that exists already gets the password and the role again:
//   REGISTRATION_MONGO_PASSWORD=... MATCHING_MONGO_PASSWORD=... NOTIFICATION_MONGO_PASSWORD=... \
//     mongosh "mongodb://root@mongo:27017/admin?replicaSet=rs0" deploy/mongo/create-users.js
const services = ["registration", "matching", "notification"];

for (const service of services) {
  const variable = `${service.toUpperCase()}_MONGO_PASSWORD`;
  const password = process.env[variable];
  if (!password) {
    throw new Error(`set ${variable} (the password of the MongoDB user ${service})`);
  }
  // the user is kept in its own database, which is also its authSource
  const database = db.getSiblingDB(service);
  const roles = [{ role: "readWrite", db: service }];
  if (database.getUser(service)) {
    database.updateUser(service, { pwd: password, roles: roles });
  } else {
    database.createUser({ user: service, pwd: password, roles: roles });
  }
  print(`MongoDB user ${service}: readWrite on the ${service} database only`);
}
